import matplotlib.pyplot as plt
import numpy as np

x = np.arange(6)
fig, ax = plt.subplots()
ax.stackplot(
    x, [1, 2, 3, 2, 1, 2], [2, 2, 1, 3, 2, 1], colors=["#B3DE69", "#FCCDE5"], labels=["a", "b"]
)
ax.legend(loc="upper left")

plt.tight_layout()
plt.savefig("chart.pdf")
