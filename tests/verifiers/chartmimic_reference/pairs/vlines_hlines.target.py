import matplotlib.pyplot as plt

fig, ax = plt.subplots()
ax.vlines([1, 2, 3], 0, [3, 2, 4], colors=["#E377C2", "#7F7F7F", "#BCBD22"])
ax.hlines([1, 2], 0, 4, colors="#17BECF")
ax.set_title("Stems")

plt.tight_layout()
plt.savefig("chart.pdf")
