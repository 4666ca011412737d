"""cadrille's Chamfer distance (github col14m/cadrille, Apache-2.0), for comparison tests."""
