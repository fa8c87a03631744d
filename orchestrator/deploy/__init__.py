"""The deploy loop: deploy, watch the stack, diagnose its failure, repair and deploy again; the run report."""
