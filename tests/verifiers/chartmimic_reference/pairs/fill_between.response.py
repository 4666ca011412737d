import matplotlib.pyplot as plt
import numpy as np

x = np.linspace(0, 5, 40)
fig, ax = plt.subplots()
ax.fill_between(x, np.sin(x) - 0.3, np.sin(x) + 0.3, color="#FFB482")
ax.plot(x, np.sin(x), color="#1F4E79")
ax.set_title("Band")

plt.tight_layout()
plt.savefig("chart.pdf")
