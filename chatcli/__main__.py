from chatcli.cli.main import main

main()
