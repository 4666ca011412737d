import matplotlib.pyplot as plt

fig, axes = plt.subplots(2, 1, figsize=(4, 6))
axes[0].bar(["a", "b"], [3, 5], color="#4C72B0")
axes[1].plot([1, 2, 3], [2, 1, 3], color="#C44E52")
axes[0].set_title("Left")
axes[1].set_title("Bottom")

plt.tight_layout()
plt.savefig("chart.pdf")
