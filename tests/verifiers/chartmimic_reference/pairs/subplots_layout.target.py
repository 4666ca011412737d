import matplotlib.pyplot as plt

fig, axes = plt.subplots(1, 2, figsize=(8, 3))
axes[0].bar(["a", "b"], [3, 5], color="#4C72B0")
axes[1].plot([1, 2, 3], [2, 1, 3], color="#DD8452")
axes[0].set_title("Left")
axes[1].set_title("Right")

plt.tight_layout()
plt.savefig("chart.pdf")
