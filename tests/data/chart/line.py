import matplotlib.pyplot as plt
import numpy as np

years = np.arange(2010, 2021)
revenue = np.array([3.1, 3.4, 3.9, 4.2, 4.8, 5.1, 5.0, 5.6, 6.2, 6.8, 7.1])
costs = np.array([2.8, 3.0, 3.1, 3.5, 3.9, 4.4, 4.6, 4.7, 5.0, 5.3, 5.9])

fig, ax = plt.subplots(figsize=(7, 4.5))
ax.plot(years, revenue, color="#1F77B4", marker="o", linewidth=2, label="Revenue")
ax.plot(years, costs, color="#FF7F0E", linestyle="--", linewidth=2, label="Costs")
ax.set_title("Revenue and costs, 2010-2020")
ax.set_xlabel("Year")
ax.set_ylabel("Billion USD")
ax.grid(True, alpha=0.3)
ax.legend(loc="upper left")
plt.tight_layout()
plt.savefig("line.pdf")
