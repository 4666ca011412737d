import matplotlib.pyplot as plt
import numpy as np

np.random.seed(3)
heights_a = np.random.normal(170, 7, 400)
heights_b = np.random.normal(160, 6, 400)

fig, ax = plt.subplots(figsize=(7, 4.5))
ax.hist(heights_a, bins=25, color="#64B5CD", alpha=0.75, label="Group A")
ax.hist(heights_b, bins=25, color="#E17C05", alpha=0.75, label="Group B")
ax.set_title("Height distribution")
ax.set_xlabel("Height (cm)")
ax.set_ylabel("Count")
ax.legend()
plt.savefig("hist.pdf")
