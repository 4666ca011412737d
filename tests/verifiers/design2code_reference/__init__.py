"""Design2Code's block metrics (github NoviScl/Design2Code, MIT), for comparison tests."""
