import matplotlib.pyplot as plt
import numpy as np

rng = np.random.default_rng(7)
x = rng.normal(0, 1, 80)
y = 0.6 * x + rng.normal(0, 0.5, 80)
sizes = rng.uniform(20, 120, 80)

fig, ax = plt.subplots(figsize=(6, 5))
ax.scatter(x, y, s=sizes, color="#C44E52", alpha=0.7, edgecolors="white", label="samples")
ax.axhline(0, color="gray", linewidth=1)
ax.axvline(0, color="gray", linewidth=1)
ax.set_title("Correlated measurements")
ax.set_xlabel("Signal A")
ax.set_ylabel("Signal B")
ax.legend(loc="lower right")
plt.savefig("scatter.pdf")
