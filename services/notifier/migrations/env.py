from services.common.migrations import run_env
from services.notifier.adapters.orm import Base

run_env(Base.metadata)
