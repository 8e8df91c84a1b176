"""The project and its config: the config models and schema, `crboost init`, taking over a
RELION project, and loading a project (its job instances and their RELION job directories)."""
