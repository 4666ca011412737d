import matplotlib.pyplot as plt
import numpy as np

x = np.linspace(0, 2 * np.pi, 60)
fig, axes = plt.subplots(2, 2, figsize=(8, 6))
axes[0, 0].plot(x, np.sin(x), color="#2CA02C")
axes[0, 0].set_title("Sine")
axes[0, 1].bar(["a", "b", "c"], [4, 7, 2], color="#9467BD")
axes[0, 1].set_title("Counts")
axes[1, 0].scatter(x[::4], np.cos(x[::4]), color="#8C564B")
axes[1, 0].set_title("Cosine samples")
axes[1, 1].fill_between(x, 0, np.abs(np.sin(2 * x)), color="#E377C2", alpha=0.5)
axes[1, 1].set_title("Envelope")
fig.suptitle("Four panels")
plt.tight_layout()
plt.savefig("grid.pdf")
