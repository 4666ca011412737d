import matplotlib.pyplot as plt

data = [[1, 2, 3, 4, 5], [2, 3, 4, 5, 9], [0, 1, 1, 2, 3]]
fig, ax = plt.subplots()
bp = ax.boxplot(data, patch_artist=True, labels=["A", "B", "C"])
for patch, color in zip(bp["boxes"], ["#FB8072", "#80B1D3", "#FDB462"], strict=False):
    patch.set_facecolor(color)
ax.set_title("Spread of scores")

plt.tight_layout()
plt.savefig("chart.pdf")
