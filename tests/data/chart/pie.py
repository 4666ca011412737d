import matplotlib.pyplot as plt

labels = ["Housing", "Food", "Transport", "Leisure", "Savings"]
sizes = [35, 20, 15, 12, 18]
colors = ["#8172B3", "#937860", "#DA8BC3", "#8C8C8C", "#CCB974"]

fig, ax = plt.subplots(figsize=(6, 6))
ax.pie(
    sizes,
    labels=labels,
    colors=colors,
    autopct="%1.0f%%",
    startangle=90,
    wedgeprops={"edgecolor": "white"},
)
ax.set_title("Monthly budget")
ax.axis("equal")
plt.savefig("pie.pdf")
