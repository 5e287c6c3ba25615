# Self-hosting: the dashboard in one container, built with the same setup script as the README's quick start.
#   docker build -t attention-dashboard .
#   docker run -p 8501:8501 -v hf-cache:/home/app/.cache/huggingface attention-dashboard
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PATH=/app/.venv/bin:$PATH

# An unprivileged user owns the app and its virtualenv; the Hugging Face cache lives in its home.
RUN useradd --create-home --uid 10001 app && mkdir /app && chown app:app /app
WORKDIR /app
USER app

# Dependencies first, so editing the code does not reinstall them.
COPY --chown=app:app requirements.txt requirements-dev.txt ./
COPY --chown=app:app scripts/ scripts/
RUN bash scripts/setup.sh

COPY --chown=app:app . .

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://localhost:8501/_stcore/health', timeout=4)"
CMD ["streamlit", "run", "app.py", "--server.address", "0.0.0.0", "--server.port", "8501"]
