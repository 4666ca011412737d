import matplotlib.pyplot as plt
import numpy as np

x = np.linspace(0, 10, 50)
fig, ax = plt.subplots()
for k, c in zip(range(3), ["#FF0000", "#0000FF", "#00AA00"], strict=False):
    ax.plot(x, np.sin(x + k), color=c, label=f"phase {k}")
ax.legend()
ax.set_xlabel("time")

plt.tight_layout()
plt.savefig("chart.pdf")
