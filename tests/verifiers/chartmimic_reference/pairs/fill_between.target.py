import matplotlib.pyplot as plt
import numpy as np

x = np.linspace(0, 5, 40)
fig, ax = plt.subplots()
ax.fill_between(x, np.sin(x) - 0.2, np.sin(x) + 0.2, color="#A1C9F4", alpha=0.5)
ax.plot(x, np.sin(x), color="#1F4E79")
ax.axhline(0, color="gray", linestyle="--")
ax.set_title("Band")

plt.tight_layout()
plt.savefig("chart.pdf")
