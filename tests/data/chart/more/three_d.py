import matplotlib.pyplot as plt
import numpy as np

fig = plt.figure(figsize=(10, 4))
ax = fig.add_subplot(1, 3, 1, projection="3d")
X, Y = np.meshgrid(np.linspace(-2, 2, 30), np.linspace(-2, 2, 30))
ax.plot_surface(X, Y, np.exp(-(X**2) - Y**2), cmap="coolwarm")
ax.set_title("Surface")
ax2 = fig.add_subplot(1, 3, 2, projection="3d")
ax2.scatter(np.random.rand(30), np.random.rand(30), np.random.rand(30), c="r")
ax2.set_zlabel("z")
ax3 = fig.add_subplot(1, 3, 3, projection="3d")
ax3.bar3d([0, 1, 2], [0, 1, 2], [0, 0, 0], 0.5, 0.5, [1, 2, 3], color="#2ca02c")
plt.tight_layout()
plt.savefig("x.png")
