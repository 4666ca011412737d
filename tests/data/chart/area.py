import matplotlib.pyplot as plt
import numpy as np

months = np.arange(1, 13)
solar = np.array([2, 3, 5, 7, 9, 11, 12, 11, 8, 6, 3, 2])
wind = np.array([8, 7, 7, 6, 5, 4, 4, 4, 5, 6, 7, 8])

fig, ax = plt.subplots(figsize=(7, 4))
ax.fill_between(months, 0, wind, color="#17BECF", alpha=0.6, label="Wind")
ax.fill_between(months, wind, wind + solar, color="#BCBD22", alpha=0.6, label="Solar")
ax.plot(months, wind + solar, color="black", linewidth=1)
ax.set_xlim(1, 12)
ax.set_title("Renewable output by month")
ax.set_xlabel("Month")
ax.set_ylabel("TWh")
ax.legend(loc="upper left")
plt.savefig("area.pdf")
