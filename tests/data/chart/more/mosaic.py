import matplotlib.pyplot as plt
import numpy as np

fig, axd = plt.subplot_mosaic([["left", "right"], ["bottom", "bottom"]], figsize=(7, 6))
axd["left"].pcolormesh(np.random.rand(5, 5), cmap="plasma")
axd["right"].broken_barh([(1, 2), (4, 1)], (0, 1), facecolors="tab:orange")
axd["bottom"].vlines([1, 2, 3], 0, [3, 2, 1], colors=["r", "g", "b"])
axd["bottom"].axhspan(0.5, 1, color="yellow", alpha=0.3)
axd["bottom"].hlines(2, 0, 4, colors="k")

plt.show()
