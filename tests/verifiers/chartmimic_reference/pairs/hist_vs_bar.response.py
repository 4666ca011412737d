import matplotlib.pyplot as plt

fig, ax = plt.subplots()
ax.bar(range(8), [3, 10, 25, 50, 55, 35, 15, 7], color="#8172B3", edgecolor="black")
ax.set_title("Distribution")

plt.tight_layout()
plt.savefig("chart.pdf")
