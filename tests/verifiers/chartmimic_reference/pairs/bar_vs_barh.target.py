import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(6, 4))
ax.bar(["North", "South", "East"], [12, 7, 9], color=["#1F77B4", "#FF7F0E", "#2CA02C"])
ax.set_title("Sales by region")
ax.set_ylabel("Units")

plt.tight_layout()
plt.savefig("chart.pdf")
