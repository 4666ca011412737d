import matplotlib.pyplot as plt

fig, ax = plt.subplots()
ax.pie(
    [30, 25, 25, 20],
    labels=["Rent", "Food", "Travel", "Other"],
    colors=["#FF9999", "#66B3FF", "#99FF99", "#FFCC99"],
    autopct="%1.0f%%",
)
ax.set_title("Budget")

plt.tight_layout()
plt.savefig("chart.pdf")
