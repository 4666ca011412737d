import matplotlib.pyplot as plt

data = [[1, 2, 3, 4, 5], [2, 3, 4, 5, 9]]
fig, ax = plt.subplots()
ax.boxplot(data[:1], positions=[1], patch_artist=True, boxprops=dict(facecolor="#66C2A5"))
ax.boxplot(data[1:], positions=[2], patch_artist=True, boxprops=dict(facecolor="#FC8D62"))
ax.set_title("Two groups")

plt.tight_layout()
plt.savefig("chart.pdf")
