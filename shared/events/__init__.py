"""The event contract apps send (Segment Spec), EventBridge pattern matching, and trait rules."""
