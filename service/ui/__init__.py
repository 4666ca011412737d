"""What `/ui` and `rewardgate report` draw: escaped HTML pieces, SVG plots made from
numbers, per-verifier evidence, and the page's static CSS and JavaScript."""
