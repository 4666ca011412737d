import matplotlib.pyplot as plt
import numpy as np

x = np.arange(5)
fig, ax = plt.subplots()
ax.plot(x, x**1.5, color="#D62728", label="model")
ax.plot(x, x + 1, color="#9467BD", label="baseline")
ax.legend()
ax.set_title("Loss")

plt.tight_layout()
plt.savefig("chart.pdf")
