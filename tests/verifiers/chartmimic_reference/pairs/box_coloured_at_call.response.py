import matplotlib.pyplot as plt

data = [[1, 2, 3, 4, 5], [2, 3, 4, 5, 9]]
fig, ax = plt.subplots()
bp = ax.boxplot(data, patch_artist=True)
for patch, color in zip(bp["boxes"], ["#66C2A5", "#FC8D62"], strict=False):
    patch.set_facecolor(color)
ax.set_title("Two groups")

plt.tight_layout()
plt.savefig("chart.pdf")
