# Self-hosting: the dashboard in one container, built with the same setup script as the README's quick start.
# nginx in front of one Streamlit replica (deploy/start.sh 1): it serves Streamlit's JS, CSS and fonts from disk,
# gzipped at build time, so the replica's Python only runs the app.
#   docker build -t attention-dashboard .
#   docker run -p 8501:8501 -v hf-cache:/home/app/.cache/huggingface attention-dashboard
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PATH=/app/.venv/bin:$PATH

# Debian's nginx (as in scripts/setup.sh --dev); deploy/start.sh runs it as the app user, nothing as root.
RUN apt-get update && apt-get install -y --no-install-recommends nginx && rm -rf /var/lib/apt/lists/*

# An unprivileged user owns the app and its virtualenv; the Hugging Face cache lives in its home.
RUN useradd --create-home --uid 10001 app && mkdir /app && chown app:app /app
WORKDIR /app
USER app

# Dependencies first, so editing the code does not reinstall them.
COPY --chown=app:app requirements.txt requirements-dev.txt ./
COPY --chown=app:app scripts/ scripts/
RUN bash scripts/setup.sh

COPY --chown=app:app . .
# Streamlit's static files with their .gz copies, made once here; deploy/start.sh hands them to nginx.
RUN python deploy/static_assets.py /app/.static

# nginx on 8501 (every address); the replica on 127.0.0.1:8502.
ENV STATIC_DIR=/app/.static \
    LISTEN=0.0.0.0
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://localhost:8501/_stcore/health', timeout=4)"
CMD ["bash", "deploy/start.sh", "1", "8501"]
