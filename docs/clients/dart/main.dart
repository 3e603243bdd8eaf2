// lib/main.dart: every error Flutter or the app's own code does not catch goes to Log Center.
import 'dart:async';

import 'package:flutter/material.dart';

import 'log_center.dart';

void main() {
  runZonedGuarded(() {
    // Inside the zone, so the framework and the app share it.
    WidgetsFlutterBinding.ensureInitialized();
    FlutterError.onError = (FlutterErrorDetails details) {
      FlutterError.presentError(details); // keep the usual console output
      reportError(
        details.exception,
        details.stack ?? StackTrace.current,
        context: {'library': details.library, 'context': details.context?.toString()},
      );
    };
    runApp(const MyApp());
  }, (Object error, StackTrace stack) {
    reportError(error, stack);
  });
}

class MyApp extends StatelessWidget {
  const MyApp({super.key});

  @override
  Widget build(BuildContext context) {
    return const MaterialApp(home: Scaffold(body: Center(child: Text('airhub'))));
  }
}
