from monitorgen.cli import main

main()
