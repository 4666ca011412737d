import matplotlib.pyplot as plt
import numpy as np

days = ["Mon", "Tue", "Wed", "Thu", "Fri"]
hours = ["9h", "12h", "15h", "18h"]
load = np.array([[3, 5, 6, 2], [4, 7, 8, 3], [2, 6, 9, 4], [5, 8, 7, 3], [1, 4, 5, 6]])

fig, ax = plt.subplots(figsize=(6, 5))
image = ax.imshow(load, cmap="viridis")
ax.set_xticks(range(len(hours)))
ax.set_xticklabels(hours)
ax.set_yticks(range(len(days)))
ax.set_yticklabels(days)
for i in range(len(days)):
    for j in range(len(hours)):
        ax.text(j, i, str(load[i, j]), ha="center", va="center", color="white")
fig.colorbar(image, ax=ax, label="Requests (k)")
ax.set_title("Server load")
plt.savefig("heatmap.pdf")
