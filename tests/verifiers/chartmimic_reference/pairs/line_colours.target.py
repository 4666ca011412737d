import matplotlib.pyplot as plt
import numpy as np

x = np.linspace(0, 10, 50)
fig, ax = plt.subplots()
for k, c in zip(range(3), ["#E41A1C", "#377EB8", "#4DAF4A"], strict=False):
    ax.plot(x, np.sin(x + k), color=c, label=f"phase {k}")
ax.legend(title="Series")
ax.set_xlabel("time (s)")

plt.tight_layout()
plt.savefig("chart.pdf")
