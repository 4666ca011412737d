import matplotlib.pyplot as plt
import numpy as np

labels = ["Speed", "Power", "Range", "Cost", "Comfort"]
values = [4, 3, 5, 2, 4]
angles = np.linspace(0, 2 * np.pi, len(labels), endpoint=False).tolist()
values += values[:1]
angles += angles[:1]
fig, ax = plt.subplots(subplot_kw={"projection": "polar"})
ax.plot(angles, values, color="#1f77b4", linewidth=2)
ax.fill(angles, values, color="#1f77b4", alpha=0.25)
ax.set_xticks(angles[:-1])
ax.set_xticklabels(labels)
ax.set_title("Radar")
plt.savefig("x.png")
