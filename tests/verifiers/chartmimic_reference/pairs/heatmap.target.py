import matplotlib.pyplot as plt
import numpy as np

m = np.arange(12).reshape(3, 4)
fig, ax = plt.subplots()
ax.imshow(m, cmap="Blues")
for i in range(3):
    for j in range(4):
        ax.text(j, i, str(m[i, j]), ha="center", va="center")
ax.set_title("Grid")

plt.tight_layout()
plt.savefig("chart.pdf")
