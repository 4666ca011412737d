import matplotlib.pyplot as plt

fig, ax = plt.subplots()
ax.pie([30, 45, 25], labels=["Rent", "Food", "Other"], colors=["#FF9999", "#3366CC", "#FFCC99"])
ax.set_title("Budget")

plt.tight_layout()
plt.savefig("chart.pdf")
