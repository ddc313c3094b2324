"""The access layer: the only place that knows T-SQL text, pyodbc and driver errors."""
