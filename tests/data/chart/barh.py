import matplotlib.pyplot as plt

languages = ["Python", "C++", "Java", "Rust", "Go"]
share = [31.5, 18.2, 16.9, 9.4, 7.7]

fig, ax = plt.subplots(figsize=(6.5, 4))
bars = ax.barh(languages, share, color="#55A868", edgecolor="black")
for bar, value in zip(bars, share, strict=True):
    ax.text(value + 0.5, bar.get_y() + bar.get_height() / 2, f"{value}%", va="center")
ax.invert_yaxis()
ax.set_xlabel("Share of repositories (%)")
ax.set_title("Language popularity")
ax.set_xlim(0, 40)
plt.tight_layout()
plt.savefig("barh.pdf")
