import matplotlib.pyplot as plt
import numpy as np

models = ["Alpha", "Beta", "Gamma", "Delta"]
accuracy = [71.2, 68.4, 80.1, 75.3]
recall = [65.0, 70.2, 77.8, 72.9]
x = np.arange(len(models))
width = 0.38

fig, ax = plt.subplots(figsize=(7, 4.5))
ax.bar(x - width / 2, accuracy, width, color="#4C72B0", label="Accuracy")
ax.bar(x + width / 2, recall, width, color="#DD8452", label="Recall")
ax.set_xticks(x)
ax.set_xticklabels(models)
ax.set_ylabel("Score (%)")
ax.set_ylim(0, 100)
ax.set_title("Model comparison")
ax.legend()
plt.tight_layout()
plt.savefig("bar.pdf")
