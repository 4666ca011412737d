import matplotlib.pyplot as plt
import numpy as np

rng = np.random.default_rng(0)
x, y = rng.random(30), rng.random(30)
fig, ax = plt.subplots()
sc = ax.scatter(x, y, c=x + y, cmap="plasma")
ax.scatter([0.5], [0.5], color="black")
ax.set_title("Points")

plt.tight_layout()
plt.savefig("chart.pdf")
