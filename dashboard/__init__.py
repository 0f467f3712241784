"""The Streamlit dashboard (``streamlit run dashboard/Home.py``); never imports torch/transformers."""
