import matplotlib.pyplot as plt

data = [[1, 2, 3, 4, 5], [2, 3, 4, 5, 9], [0, 1, 1, 2, 3]]
fig, ax = plt.subplots()
bp = ax.boxplot(data, patch_artist=True, labels=["A", "B", "C"])
for patch, color in zip(bp["boxes"], ["#8DD3C7", "#FFFFB3", "#BEBADA"], strict=False):
    patch.set_facecolor(color)
ax.set_title("Spread")

plt.tight_layout()
plt.savefig("chart.pdf")
