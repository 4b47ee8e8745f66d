"""Built-in evaluation protocols (their classes are light; torch is imported when they run)."""
