"""What a person looks at: the HTML report (`crboost report`, written into PROJECT/report/ and
refreshed at the end of each job by `crboost run`) and the same pages live (`crboost serve`).

state.py reads the project's files, pages.py renders HTML (assets.py: inline style and script),
build.py writes the report, server.py serves the web view, commands.py holds their commands
(and `crboost exclude|include`).
"""
