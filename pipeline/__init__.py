"""video-futures: raw videos to the tables and figures of five video-forecasting papers."""
