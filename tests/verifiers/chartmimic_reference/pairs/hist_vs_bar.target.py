import matplotlib.pyplot as plt
import numpy as np

data = np.random.default_rng(1).normal(size=200)
fig, ax = plt.subplots()
ax.hist(data, bins=8, color="#8172B3", edgecolor="black")
ax.set_title("Distribution")

plt.tight_layout()
plt.savefig("chart.pdf")
