import matplotlib.pyplot as plt
import numpy as np

x = np.arange(6)
a = np.array([1, 2, 3, 2, 1, 2])
b = np.array([2, 2, 1, 3, 2, 1])
fig, ax = plt.subplots()
ax.fill_between(x, 0, a, color="#B3DE69", label="a")
ax.fill_between(x, a, a + b, color="#FCCDE5", label="b")
ax.legend(loc="upper left")

plt.tight_layout()
plt.savefig("chart.pdf")
