/// `timbre prep`: folders of drum recordings into a clean, uniform training set.
public enum Dataset {}
