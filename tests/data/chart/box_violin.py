import matplotlib.pyplot as plt
import numpy as np

rng = np.random.default_rng(11)
data = [rng.normal(loc, 1.0, 200) for loc in (0, 1, 3)]
fig, (left, right) = plt.subplots(1, 2, figsize=(8, 4))
boxes = left.boxplot(data, patch_artist=True)
for patch, color in zip(boxes["boxes"], ["#FFB000", "#648FFF", "#DC267F"], strict=True):
    patch.set_facecolor(color)
left.set_title("Box plot")
parts = right.violinplot(data, showmeans=True)
for body in parts["bodies"]:
    body.set_facecolor("#785EF0")
right.set_title("Violin plot")
for ax in (left, right):
    ax.set_xticks([1, 2, 3])
    ax.set_xticklabels(["low", "mid", "high"])
fig.suptitle("Three samples")
plt.savefig("box_violin.pdf")
