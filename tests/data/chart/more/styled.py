import matplotlib.pyplot as plt
import numpy as np

plt.style.use("ggplot")
x = np.linspace(0, 1, 20)
plt.plot(x, x**2, "o-")
plt.loglog(x + 1, x + 2)
plt.xlabel("x")
plt.ylabel("y")
plt.title("ggplot style")
plt.tight_layout()
plt.savefig("out.png", dpi=300, bbox_inches="tight")
