import matplotlib.pyplot as plt

fig, ax = plt.subplots()
ax.vlines([1, 2, 3], 0, [3, 2, 4], colors="#E377C2")
ax.hlines([1], 0, 4, colors="#17BECF")
ax.set_title("Stems")
ax.set_xlabel("x")

plt.tight_layout()
plt.savefig("chart.pdf")
